using Microsoft.Extensions.DependencyInjection.Extensions;
using Pb.Redis;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Scale-out through Redis for Pb.Web, in the style of SignalR's <c>AddStackExchangeRedis</c>.</summary>
public static class PerspectiveBrokerRedisExtensions
{
    /// <summary>
    /// Adds <see cref="RedisReplication"/> (a singleton, started with the host) for the app's
    /// <see cref="ReplicatedCacheable{TState}"/>s, connecting to <paramref name="configuration"/> (a StackExchange.Redis
    /// connection string such as <c>"127.0.0.1:6379"</c>).
    /// </summary>
    public static IPerspectiveBrokerBuilder AddRedis(this IPerspectiveBrokerBuilder builder, string configuration, Action<RedisReplicationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(configuration);
        return builder.AddRedis(options =>
        {
            options.Configuration = ConfigurationOptions.Parse(configuration);
            configure?.Invoke(options);
        });
    }

    /// <summary>Adds <see cref="RedisReplication"/> configured by <paramref name="configure"/> (set <see cref="RedisReplicationOptions.Configuration"/>).</summary>
    public static IPerspectiveBrokerBuilder AddRedis(this IPerspectiveBrokerBuilder builder, Action<RedisReplicationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(configure);
        builder.Services.TryAddSingleton<RedisReplication>();
        builder.Services.AddHostedService(static sp => sp.GetRequiredService<RedisReplication>());
        return builder;
    }
}
