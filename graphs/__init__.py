"""The project's workflows, one module per graph exported in langgraph.json."""
