"""What langgraph.json loads besides the graphs: persistence and start-up hooks."""
