"""Webhooks: endpoints, their secrets, URL checks, signing and the retry schedule, shared by the API and the
dispatcher."""
