"""The expense assistant: ``graph`` (the agent), ``tools`` and ``middleware`` (tool reviews)."""
