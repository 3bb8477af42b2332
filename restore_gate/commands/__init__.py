"""The CLI's commands other than check and publish."""
