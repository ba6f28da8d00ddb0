"""Hypothesis strategies: arbitrary JSON, biased towards almost-valid answers."""

from __future__ import annotations

from hypothesis import strategies as st

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
words = st.sampled_from(
    [
        "approve",
        "approved",
        "reject",
        "rejected",
        "edit",
        "retry",
        "cancel",
        "expired",
        "respond",
        "APPROVE",
        "",
    ]
)
answers = json_values | st.fixed_dictionaries(
    {"decision": words | json_values},
    optional={
        "note": st.text(max_size=30) | json_values,
        "approver": st.sampled_from(["bob", "alice", None]) | json_values,
        "changes": st.fixed_dictionaries(
            {}, optional={"amount": scalars, "description": scalars, "requester": scalars}
        )
        | json_values,
        "type": words,
    },
)
tool_answers = json_values | st.fixed_dictionaries(
    {"type": words},
    optional={
        "message": json_values,
        "edited_action": st.fixed_dictionaries(
            {
                "name": st.sampled_from(["pay", "refund", "file_expense"]) | json_values,
                "args": json_values,
            }
        )
        | json_values,
    },
)
inputs = json_values | st.fixed_dictionaries(
    {},
    optional={
        "amount": scalars,
        "description": scalars,
        "requester": scalars,
        "category": scalars,
        "customer": scalars,
        "items": json_values,
        "messages": json_values,
    },
)
