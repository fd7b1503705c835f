"""Human pages: parse a form, call the domain, render or redirect."""
