using Microsoft.Extensions.AI;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Extensions.AI.Tests;

public class SharpGptChatClientTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You are a storyteller."),
        new(ChatRole.User, "Begin a story."),
    ];

    [Fact]
    public async Task AnswersAndStreamsTheSameTextForTheSameSeed()
    {
        using IChatClient client = new SharpGptChatClient(TinyModel.Path);
        var options = new ChatOptions { MaxOutputTokens = 8, Seed = 21, Temperature = 1 };
        ChatResponse response = await client.GetResponseAsync(Conversation, options);
        Assert.Equal(ChatRole.Assistant, response.Messages[0].Role);
        Assert.Equal(8, response.Usage!.OutputTokenCount);
        Assert.Contains(response.FinishReason, new ChatFinishReason?[] { ChatFinishReason.Length, ChatFinishReason.Stop });
        string streamed = "";
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(Conversation, options))
        {
            streamed += update.Text;
        }
        Assert.Equal(response.Text, streamed);
        Assert.Equal("SharpGPT", client.GetService<ChatClientMetadata>()!.ProviderName);
    }

    [Fact]
    public async Task ConcurrentCallersShareTheEngine()
    {
        using IChatClient client = new SharpGptChatClient(TinyModel.Path);
        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            client.GetResponseAsync([new ChatMessage(ChatRole.User, $"Question {i}")], new ChatOptions { MaxOutputTokens = 5, Seed = i })));
        Assert.All(answers, a => Assert.Equal(5, a.Usage!.OutputTokenCount));
    }
}
