"""Users, roles, family members, addresses, sessions, the access policy and the audit log."""
