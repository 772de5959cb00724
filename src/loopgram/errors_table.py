"""The Telegram rpc errors loopgram knows, as one table of plain data.

Both ends read it: the server (``loopgram.server.errors``) raises these names, loopgram's
client (``loopgram.client.errors``) generates one exception class per row. It lives outside
both packages so that the client does not import the server to learn the names. A name
ending in ``_X`` carries a number in place of ``X`` (``FLOOD_WAIT_X`` is sent as
``FLOOD_WAIT_17``).
"""

from __future__ import annotations

from typing import Final

ROWS: Final[tuple[tuple[int, str, str], ...]] = (
    # 400 BAD_REQUEST
    (400, "QUERY_ID_INVALID", "The callback query id is invalid, answered or expired"),
    (400, "URL_INVALID", "The URL is not the bot's own deep link or its game URL"),
    (400, "BOT_RESPONSE_TIMEOUT", "The bot did not answer the callback query in time"),
    (400, "USER_BOT_REQUIRED", "This method can only be called by a bot"),
    (400, "BOT_METHOD_INVALID", "This method cannot be called by a bot"),
    (400, "MESSAGE_TOO_LONG", "The message text is too long"),
    (400, "ENTITY_BOUNDS_INVALID", "An entity's offset or length lies outside the text"),
    (400, "ENTITIES_TOO_LONG", "The message's formatting entities are too long"),
    (400, "ENTITY_MENTION_USER_INVALID", "A mention names a user that is invalid or unknown"),
    (400, "DATA_INVALID", "No button of the message carries this callback data"),
    (400, "MESSAGE_ID_INVALID", "The message id is invalid"),
    (400, "MESSAGE_EMPTY", "The message is empty"),
    (400, "MESSAGE_NOT_MODIFIED", "The edit would not change the message"),
    (400, "MESSAGE_AUTHOR_REQUIRED", "Only the author of a message can edit it"),
    (400, "PEER_ID_INVALID", "The peer is invalid or unknown"),
    (400, "CHAT_ID_INVALID", "The chat is invalid or unknown"),
    (400, "CHAT_TITLE_EMPTY", "The chat title is empty"),
    (400, "CHAT_NOT_MODIFIED", "The change would not modify the chat"),
    (400, "CHAT_ADMIN_REQUIRED", "Only an admin of the chat can do this"),
    (400, "USER_NOT_PARTICIPANT", "The user is not a member of the chat"),
    (400, "USER_ALREADY_PARTICIPANT", "The user is already a member of the chat"),
    (403, "CHAT_WRITE_FORBIDDEN", "You are not a member of the chat"),
    (400, "CHANNEL_INVALID", "The channel is invalid or unknown"),
    (400, "CHANNEL_PRIVATE", "The channel is private or you were banned from it"),
    (400, "USER_CREATOR", "The creator cannot leave the channel"),
    (400, "USERNAME_NOT_MODIFIED", "The username is already the current one"),
    (400, "CHAT_ALREADY_MIGRATED", "The chat was already made a supergroup"),
    (400, "USER_ADMIN_INVALID", "The creator or oneself cannot be banned"),
    (400, "USER_ID_INVALID", "The user is invalid or unknown"),
    (400, "USER_IS_BOT", "Bots cannot send messages to other bots"),
    (400, "PHONE_CODE_EMPTY", "The login code is missing"),
    (400, "PHONE_CODE_INVALID", "The login code is wrong"),
    (400, "PHONE_CODE_EXPIRED", "The login code hash is expired or does not match the number"),
    (400, "PHONE_NUMBER_INVALID", "The phone number is invalid"),
    (400, "PHONE_NUMBER_OCCUPIED", "The phone number is already used by an account"),
    (400, "FIRSTNAME_INVALID", "The first name is invalid"),
    (400, "ABOUT_TOO_LONG", "The bio (about) is too long"),
    (400, "LASTNAME_INVALID", "The last name is invalid"),
    (400, "ACCESS_TOKEN_INVALID", "The bot token is invalid"),
    (400, "USERNAME_INVALID", "The username is invalid"),
    (400, "USERNAME_OCCUPIED", "The username is already taken"),
    (400, "USERNAME_NOT_OCCUPIED", "No account has this username"),
    (400, "BUTTON_DATA_INVALID", "Callback data must be 1 to 64 bytes"),
    # bot commands (bots.setBotCommands and the Bot API's setMyCommands)
    (400, "BOT_COMMAND_INVALID", "A command is not 1 to 32 lower-case letters, digits or _"),
    (400, "BOT_COMMAND_DESCRIPTION_INVALID", "A command description is not 1 to 256 characters"),
    (400, "BOT_COMMANDS_TOO_MUCH", "More than 100 commands"),
    (400, "LANG_CODE_INVALID", "The language code is not empty or two lower-case letters"),
    # contacts
    (400, "SEARCH_QUERY_EMPTY", "The search query is empty"),
    (400, "PHONE_NOT_OCCUPIED", "No user has this phone number"),
    # forwarding
    (400, "MESSAGE_IDS_EMPTY", "No message ids were given"),
    (400, "RANDOM_ID_INVALID", "The random ids do not match the message ids one to one"),
    # inline mode (messages.getInlineBotResults, setInlineBotResults, sendInlineBotResult)
    (400, "BOT_INVALID", "The user named as the inline bot is not a bot"),
    (400, "INLINE_RESULT_EXPIRED", "The inline query is unknown or its results expired"),
    (400, "QUERY_ID_EMPTY", "The query id is empty"),
    (400, "RESULT_ID_EMPTY", "The result id is empty"),
    (400, "RESULT_ID_INVALID", "No result of the inline query has this id"),
    (400, "RESULT_ID_DUPLICATE", "Two results of the answer have the same id"),
    (400, "RESULT_TYPE_INVALID", "This kind of inline result is not supported"),
    (400, "SEND_MESSAGE_TYPE_INVALID", "This kind of inline result message is not supported"),
    (400, "RESULTS_TOO_MUCH", "The answer holds too many inline results"),
    (400, "ARTICLE_TITLE_EMPTY", "An article result has no title"),
    (400, "NEXT_OFFSET_INVALID", "The next offset is longer than 64 bytes"),
    (400, "BUTTON_TEXT_INVALID", "A button text is empty"),
    (400, "BUTTON_TYPE_INVALID", "A button type is not allowed here"),
    (400, "BUTTON_URL_INVALID", "A button URL is invalid"),
    (400, "REPLY_MARKUP_INVALID", "The reply markup is invalid"),
    (400, "REPLY_MARKUP_TOO_LONG", "The reply markup has too many buttons"),
    (400, "REPLY_MESSAGE_ID_INVALID", "The message to reply to is not in this chat"),
    (400, "MEDIA_INVALID", "This kind of media is not supported"),
    (400, "GAME_BOT_INVALID", "Bots can only send their own games"),
    (400, "PASSWORD_MISSING", "The account has no 2FA password, which this button requires"),
    (400, "LIMIT_INVALID", "The limit is invalid"),
    (400, "CONNECTION_LAYER_INVALID", "The API layer is not supported"),
    (400, "CONNECTION_LANG_PACK_INVALID", "The language pack or code of initConnection is invalid"),
    (400, "INPUT_REQUEST_TOO_LONG", "The request holds a value too large to keep"),
    (400, "INPUT_METHOD_INVALID", "The method is unknown to the server"),
    # A function of the layer loopgram has no handler for (not the client's fault).
    (400, "METHOD_NOT_IMPLEMENTED", "Not implemented by loopgram: see `loopgram methods`"),
    (400, "INPUT_FETCH_ERROR", "The request could not be decoded"),
    (400, "PERSISTENT_TIMESTAMP_INVALID", "The pts given to getDifference is invalid"),
    # 401 UNAUTHORIZED
    (401, "AUTH_KEY_UNREGISTERED", "The auth key is not logged in"),
    # 420 FLOOD
    (420, "FLOOD_WAIT_X", "Too many calls of this method: wait X seconds"),
    # 500 INTERNAL
    (500, "INTERNAL", "An internal server error occurred"),
)
"""``(code, name, description)`` of every error the server answers."""
