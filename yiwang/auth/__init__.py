"""Who may do what: users, API tokens, roles, browser sessions and the directory (LDAP)."""
