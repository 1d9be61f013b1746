using Gateway.Host.Health;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Gateway.Host.Handlers;

/// <summary>The sink's connection and channel: opened on demand, watched for health, closed on dispose.</summary>
internal sealed partial class RabbitMqSink
{
    /// <summary>The channel to publish on now, or null when one must be opened first.</summary>
    private IChannel? UsableChannel()
    {
        var channel = Volatile.Read(ref _channel);
        if (channel is null)
        {
            return null;
        }

        // While the client recovers the connection the channel is closed, but it comes back by
        // itself: publishing on it fails at once, and the frame is retried (or failed). A channel
        // closed on an open connection was closed by the broker (a channel error) and is replaced.
        return channel.IsOpen || Volatile.Read(ref _connection) is { IsOpen: false } connection && !WillNotRecover(connection) ? channel : null;
    }

    private static bool WillNotRecover(IConnection connection)
        => connection.CloseReason is { Initiator: ShutdownInitiator.Application } or { Initiator: ShutdownInitiator.Peer, ReplyCode: Constants.AccessRefused };

    private async Task<IChannel> GetChannelAsync(CancellationToken cancellationToken)
    {
        if (UsableChannel() is { } channel)
        {
            return channel;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping);
        await _connectLock.WaitAsync(linked.Token).ConfigureAwait(false);
        try
        {
            if (UsableChannel() is { } ready)
            {
                return ready;
            }

            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            var connection = Volatile.Read(ref _connection);
            if (connection is null || WillNotRecover(connection))
            {
                connection = await ConnectAsync(linked.Token).ConfigureAwait(false);
            }

            var old = Volatile.Read(ref _channel);
            var opened = await connection.CreateChannelAsync(s_channelOptions, linked.Token).ConfigureAwait(false);
            opened.ChannelShutdownAsync += OnChannelShutdownAsync;
            Volatile.Write(ref _channel, opened);
            if (_stopping.IsCancellationRequested)
            {
                // Disposed meanwhile: what was just opened must not outlive the sink.
                await CloseQuietlyAsync(Interlocked.Exchange(ref _channel, null), Interlocked.Exchange(ref _connection, null)).ConfigureAwait(false);
                throw new ObjectDisposedException(nameof(RabbitMqSink));
            }

            if (old is not null)
            {
                Log.ChannelReopened(_logger, _sinkName, _displayUri);
                await CloseQuietlyAsync(old, null).ConfigureAwait(false);
            }

            return opened;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>Opens the connection (under <see cref="_connectLock"/>); after a failure, the next attempt waits (100 ms doubling to <c>MaxRetryDelay</c>).</summary>
    private async Task<IConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        if (_connectError is { } previous && _timeProvider.GetTimestamp() < _nextConnectAt)
        {
            throw new InvalidOperationException($"RabbitMQ at {_displayUri} is unreachable: {previous}");
        }

        var factory = new ConnectionFactory
        {
            Uri = _uri ?? throw new InvalidOperationException(_configurationError),
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = _options.MaxRetryDelay,
            ClientProvidedName = $"gateway-{_sinkName}-sink",
        };
        IConnection connection;
        try
        {
            connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _connectDelay = _connectDelay == TimeSpan.Zero ? s_firstRetryDelay : TimeSpan.FromTicks(Math.Min(_connectDelay.Ticks * 2, _options.MaxRetryDelay.Ticks));
            _nextConnectAt = _timeProvider.GetTimestamp() + (long)(_connectDelay.TotalSeconds * _timeProvider.TimestampFrequency);
            _connectError = Redact(Describe(ex));
            Down(_connectError);
            Log.ConnectFailed(_logger, _sinkName, _displayUri, _connectError, _connectDelay);
            throw;
        }

        connection.ConnectionShutdownAsync += OnConnectionShutdownAsync;
        connection.ConnectionRecoveryErrorAsync += OnConnectionRecoveryErrorAsync;
        connection.RecoverySucceededAsync += OnRecoverySucceededAsync;
        var old = Interlocked.Exchange(ref _connection, connection);
        _connectDelay = TimeSpan.Zero;
        _connectError = null;
        Volatile.Write(ref _state, (int)SinkState.Up);
        Log.Connected(_logger, _sinkName, _displayUri);
        if (old is not null)
        {
            await CloseQuietlyAsync(null, old).ConfigureAwait(false);
        }

        return connection;
    }

    private Task OnConnectionShutdownAsync(object sender, ShutdownEventArgs reason)
    {
        if (!_stopping.IsCancellationRequested)
        {
            var description = Redact(Describe(reason));
            Down(description);
            Log.ConnectionLost(_logger, _sinkName, _displayUri, description, _options.MaxRetryDelay);
        }

        return Task.CompletedTask;
    }

    private Task OnConnectionRecoveryErrorAsync(object sender, ConnectionRecoveryErrorEventArgs args)
    {
        if (!_stopping.IsCancellationRequested)
        {
            var description = Redact(Describe(args.Exception));
            Down(description);
            Log.RecoveryFailed(_logger, _sinkName, _displayUri, description);
        }

        return Task.CompletedTask;
    }

    private Task OnRecoverySucceededAsync(object sender, AsyncEventArgs args)
    {
        Volatile.Write(ref _state, (int)SinkState.Up);
        Log.Recovered(_logger, _sinkName, _displayUri);
        return Task.CompletedTask;
    }

    /// <summary>A channel error (an exchange that does not exist, a refused message) closes the channel, not the connection: noted here, replaced by the next publish.</summary>
    private Task OnChannelShutdownAsync(object sender, ShutdownEventArgs reason)
    {
        if (reason.Initiator != ShutdownInitiator.Application && Volatile.Read(ref _connection) is { IsOpen: true } && !_stopping.IsCancellationRequested)
        {
            var description = Redact(Describe(reason));
            Volatile.Write(ref _lastError, description);
            Log.ChannelClosed(_logger, _sinkName, _displayUri, description);
        }

        return Task.CompletedTask;
    }

    /// <summary>Closes the channel and the connection; frames still waiting for a confirmation fail (the channel's close fails them), and frames waiting to be retried fail.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        await CloseQuietlyAsync(Interlocked.Exchange(ref _channel, null), Interlocked.Exchange(ref _connection, null)).ConfigureAwait(false);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static async Task CloseQuietlyAsync(IChannel? channel, IConnection? connection)
    {
        if (channel is not null)
        {
            try
            {
                // Aborting a channel the broker closed still removes it from the connection's recovery records.
                using var timeout = new CancellationTokenSource(s_closeTimeout);
                await (channel.IsOpen ? channel.CloseAsync(timeout.Token) : channel.AbortAsync(timeout.Token)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or RabbitMQ.Client.Exceptions.RabbitMQClientException or IOException or ObjectDisposedException)
            {
                // Closing what is already closing or gone: nothing left to release but the object.
            }

            await channel.DisposeAsync().ConfigureAwait(false);
        }

        if (connection is not null)
        {
            try
            {
                await connection.CloseAsync(s_closeTimeout).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or RabbitMQ.Client.Exceptions.RabbitMQClientException or IOException or ObjectDisposedException)
            {
            }

            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
