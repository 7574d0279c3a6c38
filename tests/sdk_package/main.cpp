// A module's service built outside the hub's tree, against the installed SDK: it
// publishes one event (its payload built as the bundled modules build theirs) and waits
// to be stopped.
#include <bus/text.h>
#include <hub/sdk.h>

int main() {
  return hub::sdk::run([](hub::sdk::Context& ctx) -> hub::Status {
    ctx.notify_ready();
    if (auto seq = ctx.publish_confirmed("hello", hub::JsonObject().add("from", "outside").str());
        !seq) {
      return seq.status();
    }
    ctx.wait();
    return hub::Status::ok();
  });
}
