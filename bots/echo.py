"""The echo bot: replies to every incoming DM with exactly the text it received."""

from dmbot import Bot, Context

bot = Bot("echo")


@bot.on_message()
async def echo(ctx: Context) -> None:
    if ctx.text:  # a DM with only a photo has no text to send back
        await ctx.reply(ctx.text)
