"""The demo relying parties: small Flask apps that sign in through the provider over HTTP only.

They never import ``idp``: they know it by its issuer URL, as any service would.
"""
