"""Package data for the conversation (the 50 Bangkok districts)."""
