"""Models: loading any CLIP (open_clip, hf-hub, a local checkpoint, a registered world's models), the
bundle the method inverts, safe checkpoint loading, and zero-shot judging."""
