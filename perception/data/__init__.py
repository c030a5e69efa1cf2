"""Data formats (MOTChallenge, COCO JSON), frame sources, and the synthetic scene generator."""
