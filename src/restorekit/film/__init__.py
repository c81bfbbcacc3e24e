"""Film emulation: grain engines, grain analysis and estimation."""
