#!/bin/sh
# Run on user event "deploy": stdin is the event payload (e.g. a version string).
version="$(cat)"
logger -t serf-deploy "node $SERF_SELF_NAME asked to deploy '$version' (event time $SERF_USER_LTIME)"
