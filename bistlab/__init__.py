"""bistlab."""
