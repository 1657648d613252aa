"""Us -> X: the client, its paths per API generation, auth, limits, errors, and the sender.

- :mod:`.client`: :class:`~dmbot.x.client.XClient`, one account's calls to X
  (:mod:`.call`: one call as a value; :mod:`.results`: what the calls return);
  :mod:`.app` builds one per managed account from the settings.
- :mod:`.paths` and :mod:`.subscriptions`: what differs between X's API
  generations (premium, enterprise, v2, the X Activity API); :mod:`.welcome`:
  welcome messages. The client hands them its ``run``; they never import it.
- :mod:`.oauth`, :mod:`.bearer`, :mod:`.authorization`: OAuth 1.0a signing,
  the app's bearer token, the PIN flow.
- :mod:`.limits` (X's DM limits), :mod:`.ratelimit` (its rate windows and
  budgets), :mod:`.errors` (its error answers, mapped to dmbot's in one place).
- :mod:`.sender`: delivers the outbox to X.

The engine imports nothing here but :mod:`.limits`.
"""
