//! The clock behind hyper's header-read timeout, with one timer per connection instead of
//! one per request.
//!
//! hyper asks its `Timer` for a new sleep each time it waits for a request head. With
//! hyper-util's `TokioTimer`, every one of them enters tokio's timer wheel and leaves it
//! again when the head arrives: two locked wheel updates per request, about 3% of the
//! throughput of the documents TV clients poll. Here a request's sleep is only a deadline
//! plus a handle on its connection's single tokio `Sleep`. That timer is moved only after
//! it has fired, so a keep-alive client costs one wake-up per connection per timeout
//! period, whatever its request rate. The bound stays exact: the connection is woken when
//! its deadline passes, and a head that is still incomplete then gets hyper's timeout error.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

type SharedSleep = Arc<Mutex<Pin<Box<tokio::time::Sleep>>>>;

/// The `hyper::rt::Timer` of one connection. Create it inside the runtime.
pub struct ConnTimer(SharedSleep);

/// Later than any head's deadline: the first deadline polled moves the timer to itself.
const UNARMED: Duration = Duration::from_secs(365 * 86_400);

impl ConnTimer {
    pub fn unarmed() -> ConnTimer {
        // Not in tokio's wheel until first polled.
        let idle = Box::pin(tokio::time::sleep(UNARMED));
        ConnTimer(Arc::new(Mutex::new(idle)))
    }
}

impl hyper::rt::Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Deadline {
            at: deadline,
            timer: self.0.clone(),
        })
    }

    /// tokio's clock, so deadlines and the timer agree (also under a paused test clock).
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// One request head's deadline.
struct Deadline {
    at: Instant,
    timer: SharedSleep,
}

impl hyper::rt::Sleep for Deadline {}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let at = tokio::time::Instant::from_std(self.at);
        // A panic cannot leave the sleep half-updated: the lock guards one reset and a poll.
        let mut sleep = self.timer.lock().unwrap_or_else(|p| p.into_inner());
        // The connection's timer must fire by `at`. Deadlines only grow (each is "now +
        // timeout" when hyper starts reading a head), so a timer still set for an earlier
        // deadline is left alone: it fires early, wakes the connection, and is moved here
        // then. The clock is read only once the timer has fired, not at every poll.
        if sleep.is_elapsed() {
            if tokio::time::Instant::now() >= at {
                return Poll::Ready(());
            }
            sleep.as_mut().reset(at);
        } else if sleep.deadline() > at {
            sleep.as_mut().reset(at);
        }
        // Registers this connection's waker with the timer; the timer firing only wakes the
        // connection, which polls this deadline again.
        let _ = sleep.as_mut().poll(cx);
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;
    use std::future::poll_fn;

    /// Polls `deadline` once, recording whether it is ready.
    async fn ready(deadline: &mut Pin<Box<dyn hyper::rt::Sleep>>) -> bool {
        poll_fn(|cx| Poll::Ready(deadline.as_mut().poll(cx).is_ready())).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_fires_at_its_time_and_the_timer_follows_later_deadlines() {
        let timer = ConnTimer::unarmed();
        let mut first = timer.sleep(Duration::from_secs(10));
        assert!(!ready(&mut first).await);
        tokio::time::advance(Duration::from_secs(4)).await;
        // A second head (keep-alive): the connection's one timer stays at the first deadline.
        drop(first);
        let mut second = timer.sleep(Duration::from_secs(10));
        assert!(!ready(&mut second).await);
        let armed = timer.0.lock().unwrap().deadline();
        assert_eq!(armed - tokio::time::Instant::now(), Duration::from_secs(6));
        // It fires at 10 s (early for the second head), which moves it to 14 s.
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(!ready(&mut second).await);
        let armed = timer.0.lock().unwrap().deadline();
        assert_eq!(armed - tokio::time::Instant::now(), Duration::from_secs(4));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(ready(&mut second).await);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unready_deadline_wakes_its_task_when_it_passes() {
        let timer = ConnTimer::unarmed();
        let deadline = timer.sleep(Duration::from_secs(10));
        let started = tokio::time::Instant::now();
        // Completes at 10 s only if the deadline's poll registered a wake-up for then.
        tokio::time::timeout(Duration::from_secs(60), deadline)
            .await
            .expect("the deadline woke its task");
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }
}
