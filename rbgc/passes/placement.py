"""Pass 3 of 5: placement. In: Group, Waves. Out: Placement. Errors: RBG3xx.

Decides where each role's pods may run: affinity terms, gang-scheduling labels, and objects
that gate the whole group. This release places nothing beyond what the pod templates say
(exclusive topology and gang scheduling are refused by `validate` until they are lowered), so
every role gets an empty decision.
"""

from __future__ import annotations

from rbgc.model import Group, Placement, RolePlacement, Waves


def place(group: Group, waves: Waves) -> Placement:
    return Placement(of_role={role.name: RolePlacement() for role in group.roles})
