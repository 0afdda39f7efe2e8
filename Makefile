# Quick start: `make demo` (predict the sample images) and `make test` (the whole test suite).
# Both create .venv and install digitcli into it on first use; `make test` also installs the pinned
# fonts the generators draw printed digits from (Debian packages listed in digitcli/synth/fonts.tsv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test fonts clean
FONT_PACKAGES := $(shell cut -f2 digitcli/synth/fonts.tsv | tail -n +2 | sort -u)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/digitcli predict sample_images/ --recursive

# Installs the packages only when one is missing; the generators check every file's hash.
fonts:
	@[ "$$(dpkg-query -W -f='$${db:Status-Abbrev}\n' $(FONT_PACKAGES) 2>/dev/null | grep -c '^ii')" = $(words $(FONT_PACKAGES)) ] || { \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	    $$SUDO apt-get install -y -q --no-install-recommends $(FONT_PACKAGES) >/dev/null \
	    || { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q --no-install-recommends $(FONT_PACKAGES) >/dev/null; }; }

test: $(VENV)/.installed fonts
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build dist *.egg-info
