"""Server-rendered pages for customers: sign-in, the consent screen and the consent dashboard."""
