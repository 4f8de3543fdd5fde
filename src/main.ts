// Page entry: registers the Lit components; <mm-app> in index.html then starts the engine worker.
import './ui/app';
