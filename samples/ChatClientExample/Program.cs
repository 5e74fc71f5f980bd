using Microsoft.Extensions.AI;
using SharpGpt.Extensions.AI;

// Any Microsoft.Extensions.AI consumer (Semantic Kernel included) can take this IChatClient.
using IChatClient client = new SharpGptChatClient(args.Length > 0 ? args[0] : null);

ChatResponse answer = await client.GetResponseAsync(
    [new ChatMessage(ChatRole.User, "Tell me a short story about a cat.")],
    new ChatOptions { MaxOutputTokens = 60, Temperature = 0.7f, Seed = 1 });
Console.WriteLine($"[{answer.FinishReason}, {answer.Usage?.OutputTokenCount} tokens] {answer.Text}");

Console.Write("streaming: ");
await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(
    [new ChatMessage(ChatRole.User, "Once upon a time")], new ChatOptions { MaxOutputTokens = 40, Seed = 2 }))
{
    Console.Write(update.Text);
}
Console.WriteLine();
