"""The reference downstream consumer: lead object in the ego lane -> forward-collision warnings and
brake requests with hysteresis. ``CollisionWarner`` is pure (fed messages); ``run`` wires it to a
stream's tracks WebSocket; ``replay`` scores it on synthetic scenarios with known range.
"""
