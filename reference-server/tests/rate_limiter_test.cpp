// The per-address rate limit of workspace creations (LIM-020), on its own and with a clock the
// test moves: bursts, the wait it reports, independent addresses, and its bounded table.
#include <boost/test/unit_test.hpp>

#include <string>

#include "rate_limiter.h"

using opsync::server::RateLimiter;

BOOST_AUTO_TEST_SUITE(rate_limiter)

BOOST_AUTO_TEST_CASE(a_burst_of_the_rate_then_one_per_interval) {
  RateLimiter limiter(6);  // one per 10 s, bursts of 6
  const uint64_t t0 = 1764000000000;
  for (int i = 0; i < 6; ++i) BOOST_TEST(!limiter.admit("a", t0).has_value());
  BOOST_TEST(limiter.admit("a", t0).value_or(0) == 10000u);  // the next slot opens in 10 s
  BOOST_TEST(limiter.admit("a", t0 + 9999).value_or(0) == 1u);
  BOOST_TEST(!limiter.admit("a", t0 + 10000).has_value());
  BOOST_TEST(limiter.admit("a", t0 + 10000).has_value());
  // Refusals count nothing: a client that keeps trying still gets in when its slot opens.
  for (int i = 0; i < 100; ++i) BOOST_TEST(limiter.admit("a", t0 + 10001 + i).has_value());
  BOOST_TEST(!limiter.admit("a", t0 + 20000).has_value());
  // After a quiet minute the whole burst is back.
  for (int i = 0; i < 6; ++i) BOOST_TEST(!limiter.admit("a", t0 + 90000).has_value());
  BOOST_TEST(limiter.admit("a", t0 + 90000).has_value());
}

BOOST_AUTO_TEST_CASE(addresses_are_limited_apart) {
  RateLimiter limiter(1);
  BOOST_TEST(!limiter.admit("10.0.0.1", 0).has_value());
  BOOST_TEST(limiter.admit("10.0.0.1", 0).value_or(0) == 60000u);
  BOOST_TEST(!limiter.admit("10.0.0.2", 0).has_value());
  BOOST_TEST(!limiter.admit("2001:db8::/64", 0).has_value());
}

BOOST_AUTO_TEST_CASE(the_table_is_bounded_and_forgets_only_refilled_addresses) {
  RateLimiter limiter(1);
  const uint64_t t0 = 1000000;
  for (size_t i = 0; i < RateLimiter::kAddressesMax; ++i)
    BOOST_TEST_REQUIRE(!limiter.admit(std::to_string(i), t0));
  BOOST_TEST(limiter.tracked() == RateLimiter::kAddressesMax);
  // Every tracked address is still limited: a new one is refused rather than one forgotten.
  BOOST_TEST(limiter.admit("new", t0 + 1).has_value());
  BOOST_TEST(limiter.admit("0", t0 + 1).has_value());
  // A minute later every bucket has refilled: they are forgotten to make room.
  BOOST_TEST(!limiter.admit("new", t0 + 60000).has_value());
  BOOST_TEST(limiter.tracked() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
