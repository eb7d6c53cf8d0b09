"""The scenario families: each module builds its scenarios for the bench app."""
