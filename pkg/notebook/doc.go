// Package notebook is what the GoNB notebooks in notebooks/ share: quick and full mode, sweeps
// run from a cell, evaluation of finished runs, paper-figure saving, and Must for errors.
package notebook
