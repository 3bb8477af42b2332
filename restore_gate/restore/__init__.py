"""Stage `restore`: the released checkpoint into the branch's model."""
