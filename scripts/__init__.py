"""Project scripts: set-up, demo, tests and README diagrams."""
