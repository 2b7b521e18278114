"""On-site voting station; talks to the JSON API (to come)."""
