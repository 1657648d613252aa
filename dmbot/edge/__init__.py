"""X -> us: the webhook (CRC, signature, store, 200), the activity stream, and parsing.

The path of a delivery: :mod:`.webhook` answers X's CRC and verifies each
POST (:mod:`.crc`, :mod:`.signature`) before appending it to the store's
inbox; :mod:`.stream` does the same for the X Activity API stream. The worker
later turns each stored delivery into typed events (:mod:`.events`) with
:func:`~dmbot.edge.envelope.parse_delivery`: Account Activity bodies in
:mod:`.envelope`, X Activity API envelopes in :mod:`.activity`.
"""
