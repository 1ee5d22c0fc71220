"""Encoders: models and data in, a LayerStack out (one LatentSpace per layer)."""
