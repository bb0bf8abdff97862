// Pictures of a run: a self-contained HTML page with a space-time diagram, and a ShiViz log.
//
// The page has one lane per node (the server and every device), virtual time down the page,
// messages as arrows (lost ones end in a cross, duplicates are dashed), each event's node clock
// beside the true time, crashes, restarts, restores and partitions marked, and the violation at
// the top with the events that touch its operations highlighted. Clicking an event shows its
// request or response body (ciphertext shown as it travelled). No network fetches: styles,
// scripts and the trace itself are inline, so the page can be attached to a bug report.
#pragma once

#include <string>
#include <vector>

#include "opsync/simulator/run.h"

namespace opsync::simulator {

// REQUIRES: the run kept its events (with bodies, for the bodies to show).
// `description` (a scenario's story, from its bug file) goes under the title when not empty.
std::string render_html(const RunResult& result, const std::string& title,
                        const std::string& description = "");

// The ShiViz log of the run (https://bestchai.bitbucket.io/shiviz/): every event of a node as a
// line of description and a line of host and vector clock, for ShiViz's default regular
// expression (?<event>.*)\n(?<host>\S*) (?<clock>{.*}).
std::string render_shiviz(const RunResult& result);

}  // namespace opsync::simulator
