#!/bin/sh
# One-shot (temporalio/admin-tools): waits until the Temporal server answers, creates the namespace when
# it is missing and registers the deploy workflow's search attributes, each with its type. Safe to run
# again: what already exists is left alone. Fails when an attribute exists with another type.
#
# DEPLOY_SEARCH_ATTRIBUTES lists them separated by spaces as Name=Type, Type being Keyword or Int (as
# `temporal operator search-attribute create --type` spells them); a bare Name means Name=Keyword.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-720h}"
: "${DEPLOY_SEARCH_ATTRIBUTES:?DEPLOY_SEARCH_ATTRIBUTES (space-separated Name=Type search attributes) must be set}"
ATTEMPTS="${BOOTSTRAP_ATTEMPTS:-60}"

# Checked before anything else, so a typo fails at once instead of after every retry.
for entry in $DEPLOY_SEARCH_ATTRIBUTES; do
  case "$entry" in
    *=*) name="${entry%%=*}" type="${entry#*=}" ;;
    *) name="$entry" type=Keyword ;;
  esac
  case "$type" in
    Keyword|Int) ;;
    *)
      echo "DEPLOY_SEARCH_ATTRIBUTES: $entry has type \"$type\"; expected Name=Keyword or Name=Int (the types the deploy workflow uses)." >&2
      exit 1
      ;;
  esac
  if [ -z "$name" ]; then
    echo "DEPLOY_SEARCH_ATTRIBUTES: $entry has no name; expected Name=Type." >&2
    exit 1
  fi
done

attempt=1
until health="$(temporal operator cluster health --address "$ADDRESS" 2>&1)"; do
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "The Temporal server at $ADDRESS did not answer health checks after $ATTEMPTS attempts:" >&2
    echo "$health" >&2
    exit 1
  fi
  echo "Waiting for the Temporal server at $ADDRESS (attempt $attempt/$ATTEMPTS)"
  attempt=$((attempt + 1))
  sleep 2
done

if temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "Namespace $NAMESPACE exists"
else
  temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
  echo "Namespace $NAMESPACE created (retention $RETENTION)"
fi

# A new namespace takes a moment to reach every service, so adding attributes is retried.
attempt=1
while :; do
  listed="$(temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" 2>/dev/null || true)"
  missing=""
  for entry in $DEPLOY_SEARCH_ATTRIBUTES; do
    case "$entry" in
      *=*) name="${entry%%=*}" type="${entry#*=}" ;;
      *) name="$entry" type=Keyword ;;
    esac
    existing="$(printf '%s\n' "$listed" | awk -v n="$name" '$1 == n { print $2 }')"
    if [ -z "$existing" ]; then
      missing="$missing $name=$type"
    elif [ "$existing" != "$type" ]; then
      echo "Search attribute $name exists in namespace $NAMESPACE with type $existing; the deploy workflow needs $type." >&2
      echo "Remove it (temporal operator search-attribute remove --name $name) and run this again." >&2
      exit 1
    fi
  done
  if [ -z "$missing" ]; then
    echo "Search attributes registered in namespace $NAMESPACE: $DEPLOY_SEARCH_ATTRIBUTES"
    exit 0
  fi
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "Could not register search attributes:$missing (namespace $NAMESPACE at $ADDRESS)." >&2
    exit 1
  fi
  for entry in $missing; do
    temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" \
      --name "${entry%%=*}" --type "${entry#*=}" || true
  done
  attempt=$((attempt + 1))
  sleep 1
done
