"""``wsztune live``: replay a corpus through a real server on 127.0.0.1 and hold the model to
what it puts on the wire and what a connection costs it.

One room per job: :mod:`~wsztune.live.plan` (what each live connection replays),
:mod:`~wsztune.live.growth` (memory per connection from marks), :mod:`~wsztune.live.result`
(one result type, one verdict rule), and one runner per kind of server:
:mod:`~wsztune.live.python` (the CPython stacks, in this process), :mod:`~wsztune.live.ws`
(Node's ws), :mod:`~wsztune.live.golang` (gorilla, coder).
"""
