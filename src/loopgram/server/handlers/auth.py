"""Server layer: handlers of the ``auth`` namespace (login of users and bots)."""

from __future__ import annotations

import loopgram.tl.functions.auth as fn
from loopgram.server.context import RequestContext
from loopgram.server.handlers.registry import Registry
from loopgram.tl.types import auth as auth_types

registry = Registry()


@registry.method(fn.SendCode, needs_account=False)
async def handle_send_code(ctx: RequestContext, req: fn.SendCode) -> auth_types.SentCode:
    """auth.sendCode#a677244f phone_number:string api_id:int api_hash:string
    settings:CodeSettings = auth.SentCode;"""
    return ctx.services.accounts.send_code(req.phone_number)


@registry.method(fn.SignIn, needs_account=False)
async def handle_sign_in(ctx: RequestContext, req: fn.SignIn) -> auth_types.Authorization:
    """auth.signIn#8d52a951 flags:# phone_number:string phone_code_hash:string
    phone_code:flags.0?string email_verification:flags.1?EmailVerification =
    auth.Authorization;"""
    accounts = ctx.services.accounts
    account = accounts.sign_in(req.phone_number, req.phone_code_hash, req.phone_code)
    ctx.session.bind_account(account)
    return accounts.authorization(account)


@registry.method(fn.SignUp, needs_account=False)
async def handle_sign_up(ctx: RequestContext, req: fn.SignUp) -> auth_types.Authorization:
    """auth.signUp#aac7b717 flags:# no_joined_notifications:flags.0?true phone_number:string
    phone_code_hash:string first_name:string last_name:string = auth.Authorization;"""
    accounts = ctx.services.accounts
    account = accounts.sign_up(req.phone_number, req.phone_code_hash, req.first_name, req.last_name)
    ctx.session.bind_account(account)
    return accounts.authorization(account)


@registry.method(fn.ImportBotAuthorization, needs_account=False)
async def handle_import_bot_authorization(
    ctx: RequestContext, req: fn.ImportBotAuthorization
) -> auth_types.Authorization:
    """auth.importBotAuthorization#67a3ff2c flags:int api_id:int api_hash:string
    bot_auth_token:string = auth.Authorization;"""
    accounts = ctx.services.accounts
    account = accounts.import_bot(req.bot_auth_token)
    ctx.session.bind_account(account)
    return accounts.authorization(account)


@registry.method(fn.LogOut)
async def handle_log_out(ctx: RequestContext, req: fn.LogOut) -> auth_types.LoggedOut:
    """auth.logOut#3e72ba19 = auth.LoggedOut;"""
    ctx.session.bind_account(None)
    return ctx.services.accounts.logged_out()
