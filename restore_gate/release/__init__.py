"""Stage `fetch`: where the released checkpoint comes from, downloads, bundles."""
