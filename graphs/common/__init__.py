"""What every workflow shares, one concern a module.

- ``fields``: field types (amounts, text, notes) and input validation;
- ``decisions``: the answer models, the decision vocabulary, Agent Inbox's answers
  and building an answer from a decision word (the CLI, the inbox and the graphs);
- ``audit``: the audit entry, and a thread's trail of them;
- ``access``: the signed-in user, roles and the one addressing rule;
- ``policy``: the deployment's rules, pinned at submission;
- ``pauses``: ``ask_human``, deadlines, the Agent Inbox form of a pause, and what a
  pause is about as people read it (the inbox, the CLI, notifications);
- ``events``: what workflows tell the server (paused, decided);
- ``store``: the project's database (ledger, order ids, notification outbox).
"""
