"""The `gandct` commands that are not pipeline stages: scoring and drawing a user's images, comparing runs,
and the opt-in studies. Run one as `gandct <command>` or `python -m gandct.commands.<module>`."""
