using Microsoft.AspNetCore.Diagnostics;
using SharpGpt.Server.Observability;

namespace SharpGpt.Server.Errors;

/// <summary>Writes OpenAI-style error responses, and catches anything unexpected so the server never dies of a request.</summary>
public static class ErrorResponses
{
    public static async Task Write(HttpContext context, ApiError error)
    {
        if (context.Response.HasStarted)
        {
            return;
        }
        context.Response.StatusCode = error.Status;
        if (error.RetryAfterSeconds is int seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString();
        }
        context.RequestServices.GetService<ServerMetrics>()?.Error(error.Status);
        await context.Response.WriteAsJsonAsync(error.Body, ServerJson.Options, context.RequestAborted);
    }

    /// <summary>ApiError → its response; anything else → 500 in the same shape (and a log line), never a dead process.</summary>
    public static void UseApiErrors(this WebApplication app)
    {
        app.UseExceptionHandler(handler => handler.Run(async context =>
        {
            Exception? exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            ApiError error = exception as ApiError ?? new ApiError(500, "The server had an error while processing your request.", "server_error");
            if (exception is not ApiError)
            {
                app.Logger.LogError(exception, "Unhandled error for {Path}", context.Request.Path);
            }
            await Write(context, error);
        }));
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (ApiError error)
            {
                await Write(context, error);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away; nothing to answer.
            }
        });
    }
}
