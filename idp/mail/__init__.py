"""Automated email: one function per message (``messages``), a transport picked by config
(``transport``), and delivery only once the action that caused it has committed (``outgoing``).
"""
