"""MTProto layer (sans-I/O): key exchange, encrypted sessions, one ``Connection`` per role.

Spec: core.telegram.org/mtproto/description, /mtproto/auth_key, /mtproto/service_messages,
/mtproto/service_messages_about_messages. No sockets here: drivers in ``loopgram.net`` feed
bytes in and write the bytes this layer returns. Clock and randomness are injected
(``loopgram.clock``).
"""
