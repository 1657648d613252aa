"""The pizza bot: a Quick Reply order flow (pizza.yaml) and a little around it.

- a message containing "pizza" starts the order flow (size, crust, confirmation);
- "Yes" places the order, "No" or "cancel" at any point cancels it;
- a question about opening hours is answered, also in the middle of an order;
- anything else gets a short help text with the Quick Reply "Order pizza".
"""

from dmbot import Bot, Context

bot = Bot("pizza")
bot.load_flows("pizza.yaml")


@bot.intent("hours", examples=["when are you open", "opening hours", "what time do you close"])
async def hours(ctx: Context) -> None:
    await ctx.reply("We bake from 11:00 to 23:00, every day.")


@bot.on_flow_end("order")
async def order_done(ctx: Context, answers: dict[str, str]) -> None:
    # Endings already said their message; keep a record of placed orders.
    if ctx.flow is not None and ctx.flow.ending == "ordered":
        ctx.state.setdefault("orders", []).append(answers)


@bot.fallback
async def help_text(ctx: Context) -> None:
    if ctx.flow is not None:
        await ctx.reply("Sorry, I can only help with your order right now.")
        return
    await ctx.reply(
        "I take pizza orders. Tap below, or just say pizza.", quick_replies=["Order pizza"]
    )
