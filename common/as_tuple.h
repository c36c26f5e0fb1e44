// The completion token fedra's coroutines await Asio operations with: co_await yields
// (error, result...) instead of throwing, and the caller turns the error into a Status.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace fedra {

inline constexpr auto kAsTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace fedra
