using SharpGpt.Server.Hosting;

// `dotnet run --project src/SharpGpt.Server -- --SharpGpt:Models:0=DIR` or, usually, `sharpgpt serve`.
WebApplication app;
try
{
    app = ServerApp.Build(args);
}
catch (SharpGpt.Model.SharpGptException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 1;
}
app.Run();
return 0;

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
