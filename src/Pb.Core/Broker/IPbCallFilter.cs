using System.Reflection;

namespace Pb;

/// <summary>
/// Runs around every call a peer makes (SignalR's <c>IHubFilter</c>): for logging, validation, metrics. Call
/// <c>next</c> (the rest of the filters, then the method) to go on and get the method's result; throw a <see cref="PbException"/> to answer the caller with an error instead.
/// Filters run in the order added, the first outermost.
/// </summary>
public interface IPbCallFilter
{
    /// <summary>Runs the call through the rest of the pipeline.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1716", Justification = "The name SignalR's IHubFilter and ASP.NET middleware use.")]
    ValueTask<object?> InvokeAsync(PbCallContext context, Func<PbCallContext, ValueTask<object?>> next);

    /// <summary>
    /// Whether this filter runs for calls of <paramref name="method"/> on objects of <paramref name="targetType"/>; asked
    /// once per method and filter list, so a filter that applies to few methods costs the others nothing. Default true.
    /// </summary>
    bool AppliesTo(Type targetType, MethodInfo method) => true;
}
