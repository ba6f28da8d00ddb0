"""A thin client for the project's workflows, built on ``langgraph_sdk``."""

from sdk_client.transport import AnswerRefused, ClientError, HitlClient, Outcome

__all__ = ["AnswerRefused", "ClientError", "HitlClient", "Outcome"]
