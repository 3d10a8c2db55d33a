"""How long idle HTTP connections are kept, by our servers and by our clients.

A server that closes an idle connection just as a client sends on it fails that request with no response
(httpx raises ReadError or RemoteProtocolError). Clients therefore give up idle connections well before
servers do; both defaults (uvicorn's and httpx's) are 5 s, which is the race itself."""

SERVER_KEEP_ALIVE_S = 65
CLIENT_KEEP_ALIVE_S = 30
