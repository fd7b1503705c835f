"""The rules of the service as plain functions: no request, no templates, no Authlib.

Functions add and flush; the caller (a view, a CLI command) commits once per action.
"""
